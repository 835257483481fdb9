"""What the edges (the REST API, the FHIR server and the web console) share and neither owns:
the unit-of-work route, the typed dependencies, error rendering, the checks every request passes
at the edge, the ``Allow`` of a 405, and presentation such as the statistics' charts."""
