"""voxcall benchmarks: see bench/README.md."""
