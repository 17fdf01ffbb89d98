"""The community-services directory, shaped on Open Referral HSDS 3.0."""
