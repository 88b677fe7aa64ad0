//! `[topology]`: which services this process serves, and where the others
//! are (the split deployment, DOMAIN.md).

use clap::Args;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which of the three services one process serves: all three (embedded,
/// the default) or fewer (the split deployment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Services {
    pub partner: bool,
    pub customer: bool,
    pub relationship: bool,
}

impl Services {
    pub const ALL: Services = Services {
        partner: true,
        customer: true,
        relationship: true,
    };

    const NONE: Services = Services {
        partner: false,
        customer: false,
        relationship: false,
    };

    /// `partner,customer,relationship`, in any order and case; `all`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut services = Services::NONE;
        for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "partner" => services.partner = true,
                "customer" => services.customer = true,
                "relationship" => services.relationship = true,
                "all" => services = Services::ALL,
                other => {
                    return Err(format!(
                        "'{}' is not a service; name partner, customer and/or relationship, comma-separated",
                        crate::domain::validate::echo_short(other)
                    ));
                }
            }
        }
        if services == Services::NONE {
            return Err("name at least one of partner, customer, relationship".to_owned());
        }
        Ok(services)
    }

    pub fn all(&self) -> bool {
        *self == Services::ALL
    }

    /// The names served, comma-separated, in the contract's order.
    pub fn names(&self) -> String {
        [
            (self.partner, "partner"),
            (self.customer, "customer"),
            (self.relationship, "relationship"),
        ]
        .into_iter()
        .filter_map(|(served, name)| served.then_some(name))
        .collect::<Vec<_>>()
        .join(",")
    }
}

impl Serialize for Services {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.names())
    }
}

impl<'de> Deserialize<'de> for Services {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Services::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySettings {
    pub services: Services,
    /// Where the services this process does not serve are (None for those
    /// it serves: a process ignores its own).
    pub partner_service_url: Option<String>,
    pub customer_service_url: Option<String>,
    pub relationship_service_url: Option<String>,
}

impl Default for TopologySettings {
    fn default() -> Self {
        TopologySettings {
            services: Services::ALL,
            partner_service_url: None,
            customer_service_url: None,
            relationship_service_url: None,
        }
    }
}

impl TopologySettings {
    pub(super) fn check(&mut self) -> Result<(), String> {
        let services = self.services;
        let partner = super::values::peer_url("partner_service_url", self.partner_service_url.take())?;
        let customer = super::values::peer_url("customer_service_url", self.customer_service_url.take())?;
        let relationship = super::values::peer_url("relationship_service_url", self.relationship_service_url.take())?;
        // The peers each service reaches: the customer and relationship
        // services read partners; the partner and customer services have
        // their consequences carried out by the relationship service.
        if !services.partner && (services.customer || services.relationship) && partner.is_none() {
            return Err(format!(
                "this process serves {} but not the partner service: say where it is with --partner-service-url (PARTNERCENTER_PARTNER_SERVICE_URL), e.g. http://127.0.0.1:50051",
                services.names()
            ));
        }
        if !services.relationship && (services.partner || services.customer) && relationship.is_none() {
            return Err(format!(
                "this process serves {} but not the relationship service: say where it is with --relationship-service-url (PARTNERCENTER_RELATIONSHIP_SERVICE_URL), e.g. http://127.0.0.1:50053",
                services.names()
            ));
        }
        self.partner_service_url = partner.filter(|_| !services.partner);
        self.customer_service_url = customer.filter(|_| !services.customer);
        self.relationship_service_url = relationship.filter(|_| !services.relationship);
        Ok(())
    }
}

/// The flags of `[topology]`.
#[derive(Args, Clone, Debug, Default, Serialize)]
#[command(next_help_heading = "Topology")]
pub struct TopologyArgs {
    /// The services this process serves, comma-separated: partner,
    /// customer, relationship; fewer than all three is the split
    /// deployment.
    #[arg(long)]
    pub services: Option<String>,
    /// Where the PartnerService is, when this process does not serve it,
    /// e.g. http://127.0.0.1:50052.
    #[arg(long)]
    pub partner_service_url: Option<String>,
    /// Where the CustomerService is, when this process does not serve it.
    #[arg(long)]
    pub customer_service_url: Option<String>,
    /// Where the RelationshipService is, when this process does not serve
    /// it.
    #[arg(long)]
    pub relationship_service_url: Option<String>,
}
