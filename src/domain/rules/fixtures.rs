//! What the rules' unit tests build their cases from.

use crate::domain::access::{AccessReason, Decision};
use crate::domain::error::{Error, ErrorCode, Reason, Result};
use crate::domain::model::{MICROS_PER_DAY, Micros, Partner, PartnerKind, PartnerStatus};
use crate::domain::principal::Principal;

pub(super) const NOW: Micros = 1_000 * MICROS_PER_DAY;

pub(super) fn partner(id: &str, kind: PartnerKind, status: PartnerStatus) -> Partner {
    Partner {
        id: id.into(),
        mpn_id: "1234567".into(),
        display_name: id.into(),
        kind,
        status,
        version: 1,
        create_time: 0,
        update_time: 0,
    }
}

pub(super) fn active(id: &str, kind: PartnerKind) -> Partner {
    partner(id, kind, PartnerStatus::Active)
}

pub(super) fn suspended(id: &str, kind: PartnerKind) -> Partner {
    partner(id, kind, PartnerStatus::Suspended)
}

pub(super) fn operator() -> Principal {
    Principal::Operator { subject: "ops".into() }
}

pub(super) fn service() -> Principal {
    Principal::Service {
        subject: "billing".into(),
    }
}

pub(super) fn as_partner(id: &str) -> Principal {
    Principal::Partner { partner_id: id.into() }
}

pub(super) fn as_customer(id: &str) -> Principal {
    Principal::Customer { customer_id: id.into() }
}

/// Asserts a refusal with this code and reason, and returns it.
#[track_caller]
pub(super) fn refused<T: std::fmt::Debug>(result: Result<T>, code: ErrorCode, reason: Reason) -> Error {
    let error = result.expect_err("a refusal");
    assert_eq!((error.code, error.reason), (code, reason), "{error}");
    error
}

#[track_caller]
pub(super) fn invalid_field<T: std::fmt::Debug>(result: Result<T>, field: &str) {
    let error = refused(result, ErrorCode::InvalidArgument, Reason::InvalidField);
    let fields: Vec<&str> = error.violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, [field]);
}

pub(super) fn decision(allowed: bool, reason: AccessReason) -> Decision {
    Decision {
        allowed,
        ..Decision::deny(reason)
    }
}
