"""Pure functions from domain objects to FHIR R4 resources (as dicts), one module per resource."""
