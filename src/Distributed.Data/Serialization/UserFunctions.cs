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

/// <summary>A function of two arguments (values or remote values, resolved before the call).</summary>
public sealed class BinaryFunction<T1, T2, TResult>(Func<T1, T2, TResult> function) : IUserFunction
{
    /// <summary>The user's delegate.</summary>
    public Func<T1, T2, TResult> Function { get; } = function;

    /// <inheritdoc />
    public string Name => FunctionNames.Of(Function);

    /// <inheritdoc />
    Delegate IUserFunction.Delegate => Function;

    /// <inheritdoc />
    public object? Invoke(object?[] arguments)
    {
        TypedArguments.CheckCount(this, arguments, 2);
        return Function(TypedArguments.As<T1>(arguments[0]), TypedArguments.As<T2>(arguments[1]));
    }
}

/// <summary>A function of three arguments (values or remote values, resolved before the call).</summary>
public sealed class TernaryFunction<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function) : IUserFunction
{
    /// <summary>The user's delegate.</summary>
    public Func<T1, T2, T3, TResult> Function { get; } = function;

    /// <inheritdoc />
    public string Name => FunctionNames.Of(Function);

    /// <inheritdoc />
    Delegate IUserFunction.Delegate => Function;

    /// <inheritdoc />
    public object? Invoke(object?[] arguments)
    {
        TypedArguments.CheckCount(this, arguments, 3);
        return Function(TypedArguments.As<T1>(arguments[0]), TypedArguments.As<T2>(arguments[1]), TypedArguments.As<T3>(arguments[2]));
    }
}

/// <summary>A function of four arguments (values or remote values, resolved before the call).</summary>
public sealed class QuaternaryFunction<T1, T2, T3, T4, TResult>(Func<T1, T2, T3, T4, TResult> function) : IUserFunction
{
    /// <summary>The user's delegate.</summary>
    public Func<T1, T2, T3, T4, TResult> Function { get; } = function;

    /// <inheritdoc />
    public string Name => FunctionNames.Of(Function);

    /// <inheritdoc />
    Delegate IUserFunction.Delegate => Function;

    /// <inheritdoc />
    public object? Invoke(object?[] arguments)
    {
        TypedArguments.CheckCount(this, arguments, 4);
        return Function(TypedArguments.As<T1>(arguments[0]), TypedArguments.As<T2>(arguments[1]),
            TypedArguments.As<T3>(arguments[2]), TypedArguments.As<T4>(arguments[3]));
    }
}

/// <summary>The arguments of the typed functions: a compiled call, with no reflection unless a list must become the declared collection type.</summary>
internal static class TypedArguments
{
    public static void CheckCount(IUserFunction function, object?[] arguments, int expected)
    {
        if (arguments.Length != expected)
            throw new ArgumentException($"{function.Name} takes {expected} arguments but was given {arguments.Length}.");
    }

    public static T As<T>(object? value)
    {
        if (value is T typed) return typed;
        if (value is null)
        {
            if (default(T) is null) return default!;
            throw new ArgumentException($"A null value cannot be an argument of type {typeof(T).Name}.");
        }
        return TemplateConversion.ConvertTo(value, typeof(T)) is T converted
            ? converted
            : throw new ArgumentException($"A value of type {value.GetType().Name} cannot be an argument of type {typeof(T).Name}.");
    }
}
