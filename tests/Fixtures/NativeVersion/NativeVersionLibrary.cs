using System.Runtime.InteropServices;

namespace NativeVersion;

/// <summary>Calls the package's native library, as a package that wraps one does.</summary>
public static partial class NativeVersionLibrary
{
    /// <summary>The version the native library was compiled as (1 or 2).</summary>
    public static int Version() => native_version();

    [LibraryImport("nativeversion")]
    private static partial int native_version();
}
