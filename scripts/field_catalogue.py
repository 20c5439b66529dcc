"""Regenerate the sandbox's field catalogue from the official facebook-business SDK.

Meta documents every field of AdAccount, Campaign, AdSet, Ad, AdCreative, AdsInsights, AdImage,
AdVideo, CustomConversion, CustomAudience and AdActivity; the
SDK's generated ``Field`` classes carry those names. The sandbox accepts every one of them
(returning only the fields its world models) and answers an unknown name with Meta's (#100).

    .venv/bin/python scripts/field_catalogue.py     # rewrites metasync/sandbox/field_catalogue.json
"""

from __future__ import annotations

import json
from pathlib import Path

from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adactivity import AdActivity
from facebook_business.adobjects.adcreative import AdCreative
from facebook_business.adobjects.adimage import AdImage
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.adsinsights import AdsInsights
from facebook_business.adobjects.advideo import AdVideo
from facebook_business.adobjects.campaign import Campaign
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.adobjects.customconversion import CustomConversion
from facebook_business.apiconfig import ads_api_config

TARGET = Path(__file__).resolve().parent.parent / "metasync" / "sandbox" / "field_catalogue.json"
CLASSES = {
    "account": AdAccount,
    "campaign": Campaign,
    "adset": AdSet,
    "ad": Ad,
    "adcreative": AdCreative,
    "insights": AdsInsights,
    "adimage": AdImage,
    "advideo": AdVideo,
    "customconversion": CustomConversion,
    "customaudience": CustomAudience,
    "activity": AdActivity,
}


def main() -> None:
    catalogue = {
        "source": f"facebook-business SDK {ads_api_config['SDK_VERSION']}",
        "regenerate": "python scripts/field_catalogue.py",
        "fields": {
            kind: sorted(name for name in vars(cls.Field) if not name.startswith("_"))
            for kind, cls in CLASSES.items()
        },
    }
    TARGET.write_text(json.dumps(catalogue, indent=1) + "\n")
    counts = ", ".join(f"{kind} {len(names)}" for kind, names in catalogue["fields"].items())
    print(f"wrote {TARGET}: {counts}")


if __name__ == "__main__":
    main()
