namespace Distributed.Data.Serialization;

/// <summary>
/// An object that only means something in the process that made it (a <c>Pool</c>, say) and that a
/// closure may capture without using it: C# puts every captured variable of a scope in one closure
/// object. <see cref="ValueCodec"/> sends it as nothing (it arrives as null) instead of failing the task.
/// </summary>
public interface IProcessLocal;
