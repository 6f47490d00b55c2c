"""Custom actions of the ShopCare assistant (rasa-sdk). One module per feature; `crm_client` is the only module
that speaks HTTP to the CRM."""
