"""`bin/kit smoke --env ENV`: the first request of a fresh deployment, through every path a user takes."""
