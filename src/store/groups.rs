//! R4: security groups' rows. The rules are the RelationshipService's
//! (`service::relationships::groups`); this reads and writes, and records
//! R8's events.

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::convert::all;
use super::entity::security_group;
use super::{Store, WriteTx};
use crate::domain::model::{EventResource, SecurityGroup};
use crate::domain::paging::PageRequest;
use crate::domain::{Error, Result};

impl TryFrom<security_group::Model> for SecurityGroup {
    type Error = Error;
    fn try_from(row: security_group::Model) -> Result<Self> {
        let member_user_ids: Vec<String> = serde_json::from_str(&row.member_user_ids)
            .map_err(|error| Error::internal(format!("security group {}: unreadable members: {error}", row.id)))?;
        Ok(SecurityGroup {
            id: row.id,
            partner_id: row.partner_id,
            display_name: row.display_name,
            member_user_ids,
            version: row.version,
            create_time: row.create_time,
            update_time: row.update_time,
            delete_time: None,
        })
    }
}

fn group_row(g: &SecurityGroup) -> Result<security_group::ActiveModel> {
    let members = serde_json::to_string(&g.member_user_ids)
        .map_err(|error| Error::internal(format!("security group encoding failed: {error}")))?;
    Ok(security_group::ActiveModel {
        id: Set(g.id.clone()),
        partner_id: Set(g.partner_id.clone()),
        display_name: Set(g.display_name.clone()),
        member_user_ids: Set(members),
        version: Set(g.version),
        create_time: Set(g.create_time),
        update_time: Set(g.update_time),
    })
}

async fn find_group<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<SecurityGroup>> {
    security_group::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(SecurityGroup::try_from)
        .transpose()
}

impl Store {
    pub async fn security_group(&self, id: &str) -> Result<Option<SecurityGroup>> {
        find_group(&self.db, id).await
    }

    /// R4: a page of groups in id order, of one partner or of all.
    pub async fn list_security_groups(
        &self,
        partner_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<SecurityGroup>> {
        use security_group::Column;
        let mut query = security_group::Entity::find();
        if let Some(id) = partner_id {
            query = query.filter(Column::PartnerId.eq(id));
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

impl WriteTx {
    pub async fn security_group(&self, id: &str) -> Result<Option<SecurityGroup>> {
        find_group(self.conn(), id).await
    }

    /// R4, W1: how many groups the partner keeps, read inside the write.
    pub async fn security_groups_of(&self, partner_id: &str) -> Result<u64> {
        Ok(security_group::Entity::find()
            .filter(security_group::Column::PartnerId.eq(partner_id))
            .count(self.conn())
            .await?)
    }

    pub async fn insert_security_group(&mut self, group: &SecurityGroup) -> Result<()> {
        security_group::Entity::insert(group_row(group)?)
            .exec(self.conn())
            .await?;
        self.record("security_group.created", EventResource::SecurityGroup(group.clone()));
        Ok(())
    }

    /// R4: the group as changed; its version and update time move.
    pub async fn update_security_group(&mut self, mut group: SecurityGroup) -> Result<SecurityGroup> {
        group.version += 1;
        group.update_time = self.now();
        security_group::Entity::update(group_row(&group)?)
            .exec(self.conn())
            .await?;
        self.record("security_group.updated", EventResource::SecurityGroup(group.clone()));
        Ok(group)
    }

    /// R4: the group is gone; the event carries it as it was, with its
    /// delete_time.
    pub async fn delete_security_group(&mut self, mut group: SecurityGroup) -> Result<SecurityGroup> {
        security_group::Entity::delete_by_id(group.id.clone())
            .exec(self.conn())
            .await?;
        group.delete_time = Some(self.now());
        self.record("security_group.deleted", EventResource::SecurityGroup(group.clone()));
        Ok(group)
    }
}
