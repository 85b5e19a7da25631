"""`bin/kit readiness`: is an environment ready for production, judged from what will actually be deployed."""
