//! Relationships: the use cases of the RelationshipsService (to be moved here from `api::relationships`).
