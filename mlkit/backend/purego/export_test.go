package purego

// KernelsForTest lists the float32 block kernels this process can switch between: "generic" always, and
// "avx2" / "avx512" when the CPU runs them and the SIMD kernel was installed at init.
func KernelsForTest() []string {
	names := []string{kernelGeneric.String()}
	if !simdKernelInstalled {
		return names
	}
	for _, k := range []simdKernel{kernelAVX2, kernelAVX512} {
		if k.available() {
			names = append(names, k.String())
		}
	}
	return names
}

// UseKernelForTest makes float32 products started from now on use the named kernel (one of
// KernelsForTest); restore puts the previous one back. Tests using it must not run in parallel.
func UseKernelForTest(name string) (restore func()) {
	prev := activeKernel.Load()
	for _, k := range []simdKernel{kernelGeneric, kernelAVX2, kernelAVX512} {
		if k.String() == name {
			activeKernel.Store(int32(k))
			return func() { activeKernel.Store(prev) }
		}
	}
	panic("purego: unknown kernel " + name)
}
