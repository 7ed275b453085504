"""Video captioning benchmarks: MSR-VTT and MSVD captioning."""
