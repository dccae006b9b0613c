"""Tables and figures from result records, with runs aggregated over seeds."""
