"""`bin/kit cost-estimate`: what one environment costs on AWS per month, beside what its Claude calls cost."""
