"""Sources and sinks: files now; DICOMweb, DIMSE and FHIR servers as the export job lands."""
