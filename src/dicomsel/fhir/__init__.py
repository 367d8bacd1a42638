"""Model -> FHIR, one module per flavour; FHIR's camelCase never leaves this package."""
