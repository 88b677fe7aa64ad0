//! Security groups (R4, R8): a partner's groups of its users, their form
//! and how many a partner keeps. Who may change or read one is the
//! RelationshipService's (`service::relationships::groups`); R8's audience
//! is the store's (`store::write::audience`).

use crate::domain::error::{Error, ErrorCode, Reason, Result, Violations};

/// R4: the most groups one partner keeps.
pub const MAX_GROUPS_PER_PARTNER: u64 = 500;
/// R4: the most members one group has.
pub const MAX_GROUP_MEMBERS: usize = 1000;
/// R4: a display name's most characters (after trimming).
pub const MAX_GROUP_NAME_CHARS: usize = 256;
/// R4: a member's user id's most characters.
pub const MAX_USER_ID_CHARS: usize = 128;

/// R4, R5, R7: what is wrong with a user id, if anything: one of the
/// partner's users' opaque ids is 1-128 printable ASCII characters.
fn user_id_form(id: &str) -> std::result::Result<(), String> {
    let chars = id.chars().count();
    if chars == 0 {
        Err(format!("must be 1 to {MAX_USER_ID_CHARS} characters"))
    } else if chars > MAX_USER_ID_CHARS {
        Err(format!("must be at most {MAX_USER_ID_CHARS} characters, not {chars}"))
    } else if !id.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        Err("must be printable ASCII".to_owned())
    } else {
        Ok(())
    }
}

/// R5, R7: a user id given on its own (an assignment's principal, a
/// check's user).
pub fn user_id(field: &str, value: &str) -> Result<String> {
    user_id_form(value).map_err(|why| Error::invalid(field, why))?;
    Ok(value.to_owned())
}

/// R4: a group's display name, trimmed: 1-256 characters.
pub fn group_display_name(field: &str, value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    let chars = trimmed.chars().count();
    if chars > MAX_GROUP_NAME_CHARS {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_GROUP_NAME_CHARS} characters, not {chars}"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// R4: a group's members, in the order given: at most 1000, each 1-128
/// printable ASCII characters, no two alike. Every member at fault is
/// named (`{field}[i]`).
pub fn group_members(field: &str, ids: &[String]) -> Result<Vec<String>> {
    if ids.len() > MAX_GROUP_MEMBERS {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_GROUP_MEMBERS} members, not {}", ids.len()),
        ));
    }
    let mut violations = Violations::default();
    for (i, id) in ids.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if let Err(why) = user_id_form(id) {
            violations.add(at, why);
        } else if ids[..i].contains(id) {
            violations.add(at, "is already a member (member ids are distinct)");
        }
    }
    violations.into_result()?;
    Ok(ids.to_vec())
}

/// R4, W1: a partner keeping `kept` groups may add one while it keeps fewer
/// than 500; decided inside the write that adds it.
pub fn check_group_limit(kept: u64) -> Result<()> {
    if kept >= MAX_GROUPS_PER_PARTNER {
        return Err(Error::new(
            ErrorCode::ResourceExhausted,
            Reason::GroupLimitReached,
            format!("the partner keeps {kept} security groups, the most it may; delete one first"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r4_a_display_name_is_trimmed_and_1_to_256_characters() {
        assert_eq!(group_display_name("n", "  Ops  ").ok().as_deref(), Some("Ops"));
        assert!(group_display_name("n", "   ").is_err());
        assert!(group_display_name("n", &"x".repeat(257)).is_err());
        assert!(group_display_name("n", &"x".repeat(256)).is_ok());
    }

    #[test]
    fn r4_members_at_fault_are_named_by_index() {
        let ids: Vec<String> = ["a", "b", "a", "", "c\u{7}"].iter().map(|s| s.to_string()).collect();
        let error = group_members("g.m", &ids)
            .err()
            .map(|e| e.violations)
            .unwrap_or_default();
        let fields: Vec<&str> = error.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["g.m[2]", "g.m[3]", "g.m[4]"]);
    }

    #[test]
    fn r4_a_partner_keeps_at_most_500_groups() {
        assert!(check_group_limit(499).is_ok());
        assert_eq!(
            check_group_limit(500).err().map(|e| e.reason),
            Some(Reason::GroupLimitReached)
        );
    }
}
