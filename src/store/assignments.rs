//! R5: access assignments' rows, and the cascades the rules ask for in the
//! transaction that changes a grant or a group (R3, R4, R6). The rules are
//! the RelationshipService's (`service::relationships::assignments`) and
//! `domain::rules`; this reads and writes, and records R8's events.

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::convert::{all, join_names, parse, parse_list};
use super::entity::access_assignment;
use super::{Store, WriteTx};
use crate::domain::model::{
    AccessAssignment, AssignmentEndCause, AssignmentPrincipal, AssignmentState, EventResource, Role,
};
use crate::domain::paging::PageRequest;
use crate::domain::{Error, Result, rules};

impl TryFrom<access_assignment::Model> for AccessAssignment {
    type Error = Error;
    fn try_from(row: access_assignment::Model) -> Result<Self> {
        let principal = match (row.user_id, row.security_group_id) {
            (Some(user), None) => AssignmentPrincipal::User(user),
            (None, Some(group)) => AssignmentPrincipal::SecurityGroup(group),
            _ => {
                return Err(Error::internal(format!(
                    "assignment {}: not exactly one principal",
                    row.id
                )));
            }
        };
        Ok(AccessAssignment {
            roles: parse_list("role", &row.roles, Role::parse)?,
            state: parse("assignment state", &row.state, AssignmentState::parse)?,
            end_cause: row
                .end_cause
                .as_deref()
                .map(|cause| parse("assignment end cause", cause, AssignmentEndCause::parse))
                .transpose()?,
            id: row.id,
            grant_id: row.grant_id,
            customer_id: row.customer_id,
            partner_id: row.partner_id,
            principal,
            version: row.version,
            create_time: row.create_time,
            update_time: row.update_time,
            end_time: row.end_time,
        })
    }
}

fn assignment_row(a: &AccessAssignment) -> access_assignment::ActiveModel {
    let (user_id, security_group_id) = match &a.principal {
        AssignmentPrincipal::User(user) => (Some(user.clone()), None),
        AssignmentPrincipal::SecurityGroup(group) => (None, Some(group.clone())),
    };
    access_assignment::ActiveModel {
        id: Set(a.id.clone()),
        grant_id: Set(a.grant_id.clone()),
        customer_id: Set(a.customer_id.clone()),
        partner_id: Set(a.partner_id.clone()),
        user_id: Set(user_id),
        security_group_id: Set(security_group_id),
        roles: Set(join_names(&a.roles, Role::as_str)),
        state: Set(a.state.as_str().to_owned()),
        end_cause: Set(a.end_cause.map(|cause| cause.as_str().to_owned())),
        version: Set(a.version),
        create_time: Set(a.create_time),
        update_time: Set(a.update_time),
        end_time: Set(a.end_time),
    }
}

async fn find_assignment<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<AccessAssignment>> {
    access_assignment::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(AccessAssignment::try_from)
        .transpose()
}

/// R5: which assignments a list asks for (each None: any).
#[derive(Clone, Debug, Default)]
pub struct AssignmentFilter {
    pub partner_id: Option<String>,
    pub customer_id: Option<String>,
    pub grant_id: Option<String>,
    pub principal: Option<AssignmentPrincipal>,
    pub state: Option<AssignmentState>,
}

impl Store {
    pub async fn access_assignment(&self, id: &str) -> Result<Option<AccessAssignment>> {
        find_assignment(&self.db, id).await
    }

    /// R5: a page of assignments in id order.
    pub async fn list_access_assignments(
        &self,
        filter: &AssignmentFilter,
        page: &PageRequest,
    ) -> Result<Vec<AccessAssignment>> {
        use access_assignment::Column;
        let mut query = access_assignment::Entity::find();
        if let Some(id) = &filter.partner_id {
            query = query.filter(Column::PartnerId.eq(id.as_str()));
        }
        if let Some(id) = &filter.customer_id {
            query = query.filter(Column::CustomerId.eq(id.as_str()));
        }
        if let Some(id) = &filter.grant_id {
            query = query.filter(Column::GrantId.eq(id.as_str()));
        }
        match &filter.principal {
            Some(AssignmentPrincipal::User(user)) => query = query.filter(Column::UserId.eq(user.as_str())),
            Some(AssignmentPrincipal::SecurityGroup(group)) => {
                query = query.filter(Column::SecurityGroupId.eq(group.as_str()));
            }
            None => {}
        }
        if let Some(state) = filter.state {
            query = query.filter(Column::State.eq(state.as_str()));
        }
        if let Some(after) = &page.after {
            query = query.filter(Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        all(rows)
    }
}

/// R5: the grant's ACTIVE assignments, as a query to narrow.
fn active_on(grant_id: &str) -> sea_orm::Select<access_assignment::Entity> {
    use access_assignment::Column;
    access_assignment::Entity::find()
        .filter(Column::GrantId.eq(grant_id))
        .filter(Column::State.eq(AssignmentState::Active.as_str()))
}

impl WriteTx {
    pub async fn access_assignment(&self, id: &str) -> Result<Option<AccessAssignment>> {
        find_assignment(self.conn(), id).await
    }

    /// R5, W1: the grant's ACTIVE assignments, in id order, read inside the
    /// write.
    pub async fn active_assignments_of_grant(&self, grant_id: &str) -> Result<Vec<AccessAssignment>> {
        let rows = active_on(grant_id)
            .order_by_asc(access_assignment::Column::Id)
            .all(self.conn())
            .await?;
        all(rows)
    }

    /// R5, W1: how many ACTIVE assignments the grant has.
    pub async fn count_active_assignments(&self, grant_id: &str) -> Result<u64> {
        Ok(active_on(grant_id).count(self.conn()).await?)
    }

    /// R5, W1: the grant's ACTIVE assignment to this principal, if any.
    pub async fn active_assignment_to(
        &self,
        grant_id: &str,
        principal: &AssignmentPrincipal,
    ) -> Result<Option<AccessAssignment>> {
        use access_assignment::Column;
        let query = match principal {
            AssignmentPrincipal::User(user) => active_on(grant_id).filter(Column::UserId.eq(user.as_str())),
            AssignmentPrincipal::SecurityGroup(group) => {
                active_on(grant_id).filter(Column::SecurityGroupId.eq(group.as_str()))
            }
        };
        query
            .one(self.conn())
            .await?
            .map(AccessAssignment::try_from)
            .transpose()
    }

    pub async fn insert_access_assignment(&mut self, assignment: &AccessAssignment) -> Result<()> {
        access_assignment::Entity::insert(assignment_row(assignment))
            .exec_without_returning(self.conn())
            .await?;
        self.record(
            "access_assignment.created",
            EventResource::AccessAssignment(assignment.clone()),
        );
        Ok(())
    }

    /// R5: writes an assignment's new state (`access_assignment.updated`, or
    /// `.ended` once it has ended); its version and update time move.
    pub async fn update_access_assignment(&mut self, assignment: &mut AccessAssignment) -> Result<()> {
        assignment.version += 1;
        assignment.update_time = self.now();
        access_assignment::Entity::update(assignment_row(assignment))
            .exec(self.conn())
            .await?;
        let event_type = match assignment.state {
            AssignmentState::Active => "access_assignment.updated",
            AssignmentState::Ended => "access_assignment.ended",
        };
        self.record(event_type, EventResource::AccessAssignment(assignment.clone()));
        Ok(())
    }

    /// R6: a grant left ACTIVE; its ACTIVE assignments end with it
    /// (GRANT_ENDED), in this transaction.
    pub async fn end_assignments_of_grant(&mut self, grant_id: &str) -> Result<Vec<AccessAssignment>> {
        let now = self.now();
        let mut ended = self.active_assignments_of_grant(grant_id).await?;
        for assignment in &mut ended {
            rules::end_assignment(assignment, AssignmentEndCause::GrantEnded, now);
            self.update_access_assignment(assignment).await?;
        }
        Ok(ended)
    }

    /// R3: a grant now holds only `kept`; its ACTIVE assignments lose the
    /// other roles, and those left with none end (ROLES_REMOVED).
    pub async fn strip_assignment_roles(&mut self, grant_id: &str, kept: &[Role]) -> Result<Vec<AccessAssignment>> {
        let now = self.now();
        let mut changed = Vec::new();
        for assignment in self.active_assignments_of_grant(grant_id).await? {
            if let Some(mut stripped) = rules::strip_roles(&assignment, kept, now) {
                self.update_access_assignment(&mut stripped).await?;
                changed.push(stripped);
            }
        }
        Ok(changed)
    }

    /// R4: a group is deleted; its ACTIVE assignments end with it
    /// (GROUP_DELETED), in this transaction.
    pub async fn end_assignments_of_group(&mut self, group_id: &str) -> Result<Vec<AccessAssignment>> {
        use access_assignment::Column;
        let now = self.now();
        let rows = access_assignment::Entity::find()
            .filter(Column::SecurityGroupId.eq(group_id))
            .filter(Column::State.eq(AssignmentState::Active.as_str()))
            .order_by_asc(Column::Id)
            .all(self.conn())
            .await?;
        let mut ended: Vec<AccessAssignment> = all(rows)?;
        for assignment in &mut ended {
            rules::end_assignment(assignment, AssignmentEndCause::GroupDeleted, now);
            self.update_access_assignment(assignment).await?;
        }
        Ok(ended)
    }
}
