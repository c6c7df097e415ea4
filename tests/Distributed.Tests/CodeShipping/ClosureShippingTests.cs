using NodaTime;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// The client's own code runs on workers that never saw it: plain <c>dworker</c> processes started
/// from a folder without the test assembly or its packages (see <see cref="PlainPrograms"/>).
/// </summary>
[Collection(PlainWorkersCollection.Name)]
[ProcessTier]
public sealed class ClosureShippingTests(PlainWorkersFixture fixture)
{
    private Pool Pool => fixture.Pool;

    private static readonly IReadOnlyList<int> Inputs = Enumerable.Range(0, 12).ToList();

    [Fact]
    public void Map_runs_a_static_lambda()
    {
        var results = Pool.Map(static x => x * x + 1, Inputs);

        Assert.Equal(Inputs.Select(x => x * x + 1), Pool.Gather(results));
    }

    [Fact]
    public void Map_runs_a_closure_over_local_variables()
    {
        var offset = 7;
        var factor = 3;
        var prefix = "item-";

        var results = Pool.Map(x => $"{prefix}{x * factor + offset}", Inputs);

        Assert.Equal(Inputs.Select(x => $"item-{x * 3 + 7}"), Pool.Gather(results));
    }

    [Fact]
    public void Map_runs_a_closure_that_calls_a_captured_delegate()
    {
        var offset = 5;
        Func<int, int> twice = x => 2 * x;
        Func<int, int> addOffset = x => x + offset; // itself a closure
        Func<int, int> composed = x => addOffset(twice(x));

        var results = Pool.Map(x => composed(x) * 10, Inputs);

        Assert.Equal(Inputs.Select(x => (2 * x + 5) * 10), Pool.Gather(results));
    }

    [Fact]
    public void Map_runs_a_closure_over_a_mutable_local_with_the_value_it_has_at_each_call()
    {
        var step = 1;
        step += 4;

        var first = Pool.Map(x => x + step, Inputs);
        step = 100;
        var second = Pool.Map(x => x + step, Inputs);

        Assert.Equal(Inputs.Select(x => x + 5), Pool.Gather(first));
        Assert.Equal(Inputs.Select(x => x + 100), Pool.Gather(second));
    }

    [Fact]
    public void Map_runs_a_closure_over_a_captured_class_instance_with_its_private_state()
    {
        var scaler = new Scaler(3) { Bias = 2 };
        scaler.Remember(10);
        scaler.Remember(20);

        var results = Pool.Map(x => scaler.Apply(x), Inputs);

        Assert.Equal(Inputs.Select(x => x * 3 + 2 + 30), Pool.Gather(results));
    }

    [Fact]
    public void Map_runs_a_static_method_group()
    {
        var cubes = Pool.Map(UserMath.Cube, Inputs);
        var parities = Pool.Map(UserMath.ParityOf, Inputs);

        Assert.Equal(Inputs.Select(x => x * x * x), Pool.Gather(cubes));
        Assert.Equal(Inputs.Select(x => x % 2 == 0 ? Parity.Even : Parity.Odd), Pool.Gather(parities));
    }

    [Fact]
    public void Map_runs_an_instance_method_group_with_its_target()
    {
        var polynomial = new Polynomial(1, 0, 2); // 1 + 2x²

        var results = Pool.Map(polynomial.Evaluate, Inputs);

        Assert.Equal(Inputs.Select(x => 1L + 2L * x * x), Pool.Gather(results));
    }

    [Fact]
    public void Map_runs_a_method_group_of_the_framework()
    {
        Func<int, int> abs = Math.Abs;

        var results = Pool.Map(abs, Inputs.Select(x => -x));

        Assert.Equal(Inputs, Pool.Gather(results));
    }

    [Fact]
    public void Map_over_user_records_returns_user_classes()
    {
        var orders = Inputs.Select(i => new Order(i, (Category)(i % 3), i + 1, new Money(2.5m * i, "EUR"), [$"tag{i}"])).ToList();

        var summaries = Pool.Gather(Pool.Map(o =>
        {
            var summary = new OrderSummary { OrderId = o.Id, Total = o.Quantity * o.UnitPrice.Amount, Category = o.Category, IsLarge = o.Quantity > 6 };
            summary.Notes.AddRange(o.Tags.Select(t => $"{t}/{o.UnitPrice.Currency}"));
            return summary;
        }, orders));

        Assert.Equal(orders.Count, summaries.Count);
        for (var i = 0; i < orders.Count; i++)
        {
            var (order, summary) = (orders[i], summaries[i]);
            Assert.IsType<OrderSummary>(summary);
            Assert.Equal(order.Id, summary.OrderId);
            Assert.Equal(order.Quantity * order.UnitPrice.Amount, summary.Total);
            Assert.Equal(order.Category, summary.Category);
            Assert.Equal(order.Quantity > 6, summary.IsLarge);
            Assert.Equal([$"tag{i}/EUR"], summary.Notes);
        }
    }

    [Fact]
    public void Map_over_remote_user_records_runs_where_they_live_and_returns_user_enums_and_records()
    {
        var orders = Pool.Map(i => new Order(i, (Category)(i % 3), i, new Money(i, "USD"), []), Inputs);
        var discounted = Pool.Map(o => o with { UnitPrice = o.UnitPrice with { Amount = o.UnitPrice.Amount / 2 } }, orders);
        var categories = Pool.Map(o => o.Category, discounted);
        var revenue = Pool.Apply(os => os.Sum(o => o.Quantity * o.UnitPrice.Amount), discounted);

        Assert.Equal(Inputs.Select(i => (Category)(i % 3)), Pool.Gather(categories));
        Assert.Equal(Inputs.Select(i => new Money(i / 2m, "USD")), Pool.Gather(discounted).Select(o => o.UnitPrice));
        Assert.Equal(Inputs.Sum(i => i * (i / 2m)), revenue.Get());
    }

    [Fact]
    public void Apply_runs_a_closure_that_returns_a_user_class()
    {
        var order = new Order(42, Category.Books, 3, new Money(9.5m, "GBP"), ["gift"]);

        var summary = Pool.Apply(() => new OrderSummary { OrderId = order.Id, Total = order.Quantity * order.UnitPrice.Amount, Category = order.Category }).Get();

        Assert.Equal(42, summary.OrderId);
        Assert.Equal(28.5m, summary.Total);
        Assert.Equal(Category.Books, summary.Category);
    }

    [Fact]
    public void Apply_with_a_delegate_and_arguments_takes_user_records_and_remote_values()
    {
        var money = Pool.Map(i => new Money(i, "EUR"), Enumerable.Range(1, 4));
        Func<Order, Money[], OrderSummary> price = (order, prices) => new OrderSummary
        {
            OrderId = order.Id,
            Total = order.Quantity * prices.Sum(p => p.Amount),
            Category = order.Category,
        };

        var summary = Pool.Apply<OrderSummary>(price, new Order(7, Category.Food, 2, new Money(0, "EUR"), []), money).Get();

        Assert.Equal(7, summary.OrderId);
        Assert.Equal(2 * (1 + 2 + 3 + 4), summary.Total);
        Assert.Equal(Category.Food, summary.Category);
    }

    [Fact]
    public void Map_runs_a_closure_made_in_a_generic_method_over_user_types()
    {
        var tags = Tagging(new Money(1.5m, "CHF"));

        var results = Pool.Map(tags, Inputs);

        Assert.Equal(Inputs.Select(i => (i, new Money(1.5m, "CHF"))), Pool.Gather(results));
    }

    private static Func<int, (int, T)> Tagging<T>(T tag) => i => (i, tag);

    [Fact]
    public void Map_runs_code_that_calls_a_NuGet_package_the_workers_do_not_have()
    {
        Assert.DoesNotContain("NodaTime", fixture.Programs.AssemblyNames);
        var start = new LocalDate(2024, 1, 31);

        var dates = Pool.Map(months => start.PlusMonths(months), Inputs);
        var periods = Pool.Map(date => Period.Between(new LocalDate(2000, 2, 29), date, PeriodUnits.YearMonthDay), dates);
        var weekdays = Pool.Map(date => date.DayOfWeek, dates);

        var expectedDates = Inputs.Select(m => start.PlusMonths(m)).ToList();
        Assert.Equal(expectedDates, Pool.Gather(dates));
        Assert.Equal(expectedDates.Select(d => Period.Between(new LocalDate(2000, 2, 29), d, PeriodUnits.YearMonthDay)), Pool.Gather(periods));
        Assert.Equal(expectedDates.Select(d => d.DayOfWeek), Pool.Gather(weekdays));
    }

    [Fact]
    public void Map_takes_values_of_a_NuGet_package_as_arguments()
    {
        var days = Inputs.Select(i => new LocalDate(2023, 12, 25).PlusDays(i * 17)).ToList();

        var described = Pool.Map(d => $"{d.Year}-{d.Month:00}-{d.Day:00} {d.DayOfWeek} +{Period.Between(d, d.PlusYears(1)).Years}y", days);

        Assert.Equal(days.Select(d => $"{d.Year}-{d.Month:00}-{d.Day:00} {d.DayOfWeek} +1y"), Pool.Gather(described));
    }
}
