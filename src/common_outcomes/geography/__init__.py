"""Areas and their hierarchy: LSOA -> ward -> local authority -> region -> England."""

from common_outcomes.geography.models import Area, Geography, GeographyDocument, Lsoa, Ward
from common_outcomes.geography.ons import geography_from_ons

__all__ = ["Area", "Geography", "GeographyDocument", "Lsoa", "Ward", "geography_from_ons"]
