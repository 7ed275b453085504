"""Video question answering benchmarks: MSRVTT-QA, MSVD-QA, MSR-VTT multiple choice."""
