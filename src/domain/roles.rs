//! R1, the one home of roles: what a check asks (`Action`), what each role
//! of a delegated admin grant allows, the scopes that follow from a grant's
//! roles, and how scopes read as roles where no roles were given (a
//! request naming scopes only, and the grants and invitations stored
//! before roles existed).

use super::model::{DelegatedAdminGrant, EventResource, RelationshipRequest, Role, Scope};

/// What a check asks (A1, R7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    View,
    Sell,
    Provision,
    Support,
    ManageSubscription,
    /// R7: read the customer's directory.
    ReadDirectory,
    /// R7: manage the customer's users.
    ManageUsers,
    /// R7: read the customer's billing (D5: reading only).
    ReadBilling,
}

impl Action {
    /// R7: the actions asked for a service, which only a grant's roles
    /// allow (never a relationship).
    pub fn is_role_action(self) -> bool {
        matches!(self, Action::ReadDirectory | Action::ManageUsers | Action::ReadBilling)
    }
}

/// R1: the actions each role allows on its grant's service.
/// DIRECTORY_READER: READ_DIRECTORY; HELPDESK_ADMIN: READ_DIRECTORY,
/// SUPPORT; USER_ADMIN: READ_DIRECTORY, MANAGE_USERS; LICENSE_ADMIN:
/// READ_DIRECTORY, PROVISION; BILLING_READER: READ_BILLING; GLOBAL_ADMIN:
/// the five grant actions. No role allows SELL or MANAGE_SUBSCRIPTION (D5);
/// VIEW rests on any grant in force, whatever its roles (A1).
pub fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::DirectoryReader => matches!(action, ReadDirectory),
        Role::HelpdeskAdmin => matches!(action, ReadDirectory | Support),
        Role::UserAdmin => matches!(action, ReadDirectory | ManageUsers),
        Role::LicenseAdmin => matches!(action, ReadDirectory | Provision),
        Role::BillingReader => matches!(action, ReadBilling),
        Role::GlobalAdmin => matches!(action, ReadDirectory | ManageUsers | Provision | Support | ReadBilling),
    }
}

/// R1: whether any of these roles allows the action.
pub fn roles_allow(roles: &[Role], action: Action) -> bool {
    roles.iter().any(|role| role_allows(*role, action))
}

/// R1: a grant's scopes follow from its roles: PROVISIONING iff a role
/// allows PROVISION, SUPPORT iff a role allows SUPPORT. May be empty.
pub fn scopes_of(roles: &[Role]) -> Vec<Scope> {
    Scope::ALL
        .iter()
        .copied()
        .filter(|scope| {
            roles_allow(
                roles,
                match scope {
                    Scope::Provisioning => Action::Provision,
                    Scope::Support => Action::Support,
                },
            )
        })
        .collect()
}

/// R1: scopes given without roles (a request, or a row stored before
/// roles) read as roles: PROVISIONING as USER_ADMIN and LICENSE_ADMIN,
/// SUPPORT as HELPDESK_ADMIN. In the enum's order, without repeats.
pub fn roles_for_scopes(scopes: &[Scope]) -> Vec<Role> {
    let mut roles = Vec::new();
    for scope in scopes {
        match scope {
            Scope::Provisioning => roles.extend([Role::UserAdmin, Role::LicenseAdmin]),
            Scope::Support => roles.push(Role::HelpdeskAdmin),
        }
    }
    canonical(roles)
}

/// Roles in the enum's order, without repeats: equal sets compare equal.
pub fn canonical(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort();
    roles.dedup();
    roles
}

/// R1: gives a grant these roles and the scopes that follow from them.
pub fn assign(grant: &mut DelegatedAdminGrant, roles: Vec<Role>) {
    grant.roles = canonical(roles);
    grant.scopes = scopes_of(&grant.roles);
}

/// R1: "stored grants read so, unchanged": a grant or invitation recorded
/// before roles existed (an event's payload, a row a replica of the
/// previous version wrote) has scopes and no roles, and reads as the
/// roles its scopes stand for.
pub fn read_legacy(resource: &mut EventResource) {
    match resource {
        EventResource::DelegatedAdminGrant(grant) => read_legacy_grant(grant),
        EventResource::RelationshipRequest(invitation) => read_legacy_invitation(invitation),
        _ => {}
    }
}

/// R1: `read_legacy` for one grant.
pub fn read_legacy_grant(grant: &mut DelegatedAdminGrant) {
    if grant.roles.is_empty() {
        grant.roles = roles_for_scopes(&grant.scopes);
    }
}

/// R1: `read_legacy` for one invitation.
pub fn read_legacy_invitation(invitation: &mut RelationshipRequest) {
    if invitation.delegated_admin_roles.is_empty() {
        invitation.delegated_admin_roles = roles_for_scopes(&invitation.delegated_admin_scopes);
    }
}

/// R1: a set of roles in one byte (bit n: the n-th role of `Role::ALL`),
/// for the access index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RoleSet(u8);

impl RoleSet {
    pub fn of(roles: &[Role]) -> Self {
        RoleSet(roles.iter().fold(0, |bits, role| bits | Self::bit(*role)))
    }

    fn bit(role: Role) -> u8 {
        let at = Role::ALL.iter().position(|r| *r == role).unwrap_or_default();
        1 << at
    }

    pub fn contains(self, role: Role) -> bool {
        self.0 & Self::bit(role) != 0
    }

    /// The roles, in the enum's order.
    pub fn roles(self) -> Vec<Role> {
        Role::ALL.iter().copied().filter(|role| self.contains(*role)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ACTIONS: [Action; 8] = [
        Action::View,
        Action::Sell,
        Action::Provision,
        Action::Support,
        Action::ManageSubscription,
        Action::ReadDirectory,
        Action::ManageUsers,
        Action::ReadBilling,
    ];

    /// R1: the table as the rule states it, role by role.
    #[test]
    fn r1_each_role_allows_exactly_its_actions() {
        use Action::*;
        let table: [(Role, &[Action]); 6] = [
            (Role::DirectoryReader, &[ReadDirectory]),
            (Role::HelpdeskAdmin, &[ReadDirectory, Support]),
            (Role::UserAdmin, &[ReadDirectory, ManageUsers]),
            (Role::LicenseAdmin, &[ReadDirectory, Provision]),
            (Role::BillingReader, &[ReadBilling]),
            (
                Role::GlobalAdmin,
                &[ReadDirectory, ManageUsers, Provision, Support, ReadBilling],
            ),
        ];
        assert_eq!(table.len(), Role::ALL.len());
        for (role, allowed) in table {
            for action in ALL_ACTIONS {
                assert_eq!(
                    role_allows(role, action),
                    allowed.contains(&action),
                    "{role} {action:?}"
                );
            }
        }
        // D5: no role sells or manages a subscription; VIEW is no role's.
        for role in Role::ALL {
            for action in [View, Sell, ManageSubscription] {
                assert!(!role_allows(*role, action));
            }
        }
    }

    /// R1: scopes follow from roles, and scopes alone read as roles that
    /// give those scopes back.
    #[test]
    fn r1_scopes_are_derived_and_read_back_as_roles() {
        assert_eq!(
            scopes_of(&[Role::DirectoryReader, Role::BillingReader]),
            Vec::<Scope>::new()
        );
        assert_eq!(scopes_of(&[Role::LicenseAdmin]), [Scope::Provisioning]);
        assert_eq!(scopes_of(&[Role::UserAdmin]), Vec::<Scope>::new());
        assert_eq!(scopes_of(&[Role::HelpdeskAdmin]), [Scope::Support]);
        assert_eq!(scopes_of(&[Role::GlobalAdmin]), Scope::ALL);
        assert_eq!(
            roles_for_scopes(&[Scope::Provisioning]),
            [Role::UserAdmin, Role::LicenseAdmin]
        );
        assert_eq!(roles_for_scopes(&[Scope::Support]), [Role::HelpdeskAdmin]);
        assert_eq!(
            roles_for_scopes(&[Scope::Support, Scope::Provisioning]),
            [Role::HelpdeskAdmin, Role::UserAdmin, Role::LicenseAdmin]
        );
        for scopes in [vec![Scope::Provisioning], vec![Scope::Support], Scope::ALL.to_vec()] {
            assert_eq!(scopes_of(&roles_for_scopes(&scopes)), scopes);
        }
    }

    #[test]
    fn r1_a_role_set_holds_exactly_its_roles() {
        for bits in 0u8..64 {
            let roles: Vec<Role> = (0..6).filter(|n| bits >> n & 1 == 1).map(|n| Role::ALL[n]).collect();
            let set = RoleSet::of(&roles);
            assert_eq!(set.roles(), roles);
            assert_eq!(set, RoleSet(bits));
        }
    }
}
