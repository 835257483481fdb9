"""What the edges (the REST API and the web console) share: presentation that is neither an
edge's own nor a use case, such as the statistics' charts."""
