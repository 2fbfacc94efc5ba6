"""The deployment artefacts: the ASL, the IAM policies, the SAM template, examples/ and the Lambda bundle."""
