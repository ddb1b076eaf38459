"""Customer analytics (F2 conversion, cohorts, RFM, LTV by channel mix), computed by the worker."""
