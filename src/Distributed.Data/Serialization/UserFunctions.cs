namespace Distributed.Data.Serialization;

/// <summary>
/// A user's function wrapped so that an executor can call it with its resolved arguments without
/// reflection. The wrappers are generic over the user's types: Hyperion writes those types by name,
/// which is what makes the executor load the user's assemblies.
/// </summary>
public interface IUserFunction
{
    /// <summary>Calls the user's function.</summary>
    object? Invoke(object?[] arguments);

    /// <summary>A short name for keys and errors, e.g. <c>Program.Square</c>.</summary>
    string Name { get; }

    /// <summary>The user's delegate.</summary>
    Delegate Delegate { get; }
}

/// <summary>A function of one argument.</summary>
public sealed class UnaryFunction<T, TResult>(Func<T, TResult> function) : IUserFunction
{
    /// <summary>The user's delegate.</summary>
    public Func<T, TResult> Function { get; } = function;

    /// <inheritdoc />
    public string Name => FunctionNames.Of(Function);

    /// <inheritdoc />
    Delegate IUserFunction.Delegate => Function;

    /// <inheritdoc />
    public object? Invoke(object?[] arguments) => Function((T)arguments[0]!);
}

/// <summary>A function of no argument.</summary>
public sealed class NullaryFunction<TResult>(Func<TResult> function) : IUserFunction
{
    /// <summary>The user's delegate.</summary>
    public Func<TResult> Function { get; } = function;

    /// <inheritdoc />
    public string Name => FunctionNames.Of(Function);

    /// <inheritdoc />
    Delegate IUserFunction.Delegate => Function;

    /// <inheritdoc />
    public object? Invoke(object?[] arguments) => Function();
}

/// <summary>A function of a list: every argument is one element (the values of a list of <c>RemoteData</c>).</summary>
public sealed class ListFunction<T, TResult>(Func<IReadOnlyList<T>, TResult> function) : IUserFunction
{
    /// <summary>The user's delegate.</summary>
    public Func<IReadOnlyList<T>, TResult> Function { get; } = function;

    /// <inheritdoc />
    public string Name => FunctionNames.Of(Function);

    /// <inheritdoc />
    Delegate IUserFunction.Delegate => Function;

    /// <inheritdoc />
    public object? Invoke(object?[] arguments)
    {
        var items = new T[arguments.Length];
        for (var i = 0; i < items.Length; i++) items[i] = (T)arguments[i]!;
        return Function(items);
    }
}

/// <summary>Any delegate, called with arguments converted to its parameter types (lists become arrays or lists as declared).</summary>
public sealed class DynamicFunction(Delegate function) : IUserFunction
{
    /// <summary>The user's delegate.</summary>
    public Delegate Function { get; } = function;

    /// <inheritdoc />
    public string Name => FunctionNames.Of(Function);

    /// <inheritdoc />
    Delegate IUserFunction.Delegate => Function;

    /// <inheritdoc />
    public object? Invoke(object?[] arguments)
    {
        var parameters = Function.Method.GetParameters();
        if (parameters.Length != arguments.Length)
            throw new ArgumentException($"{Name} takes {parameters.Length} argument(s) but was given {arguments.Length}.");
        var converted = new object?[arguments.Length];
        for (var i = 0; i < arguments.Length; i++)
            converted[i] = TemplateConversion.ConvertTo(arguments[i], parameters[i].ParameterType);
        try
        {
            return Function.DynamicInvoke(converted);
        }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}

/// <summary>Readable names of delegates, for keys and error messages.</summary>
public static class FunctionNames
{
    /// <summary>"Type.Method" with compiler-generated noise trimmed: lambdas inside <c>Main</c> read <c>Main.lambda</c>.</summary>
    public static string Of(Delegate function)
    {
        var method = function.Method;
        var name = method.Name;
        if (name.StartsWith('<'))
        {
            var end = name.IndexOf('>');
            name = (end > 1 ? name[1..end] : "lambda") + ".lambda";
        }
        var owner = method.DeclaringType;
        while (owner is not null && owner.Name.StartsWith('<')) owner = owner.DeclaringType;
        return owner is null ? name : $"{owner.Name}.{name}";
    }
}
