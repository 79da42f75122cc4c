"""AWS Rekognition's image operations (DetectLabels, DetectText, DetectFaces,
DetectModerationLabels) over the AWS JSON 1.1 protocol, SigV4-signed: `routes` answers them,
`signature` checks who signed, `answers` puts Sightline's results in Rekognition's shapes and
`errors` names failures as the service does."""

from sightline.facades.rekognition.routes import router

__all__ = ["router"]
