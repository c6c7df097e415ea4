/* The native library of the NativeVersion fixture package: compiled with -DNATIVE_VERSION=N. */
int native_version(void) { return NATIVE_VERSION; }
