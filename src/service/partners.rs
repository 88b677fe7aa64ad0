//! Partners: the use cases of the PartnersService (to be moved here from `api::partners`).
