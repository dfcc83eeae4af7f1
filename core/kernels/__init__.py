"""Fast attention kernels (polynomial method, baselines). See THEORY.md §3."""
