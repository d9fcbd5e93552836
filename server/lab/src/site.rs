//! Site settings an admin changes from the UI, stored in `site_settings`.

use crate::{Result, Services, db::entity::site_setting};
use sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};

const REGISTRATION_OPEN: &str = "registration_open";

/// Whether people may create their own (student) accounts. Open unless an admin closed it.
pub async fn registration_open(services: &Services) -> Result<bool> {
    let row = site_setting::Entity::find_by_id(REGISTRATION_OPEN)
        .one(&services.db)
        .await?;
    Ok(row.is_none_or(|r| r.value != "false"))
}

pub async fn set_registration_open(services: &Services, open: bool) -> Result<()> {
    let row = site_setting::ActiveModel {
        key: Set(REGISTRATION_OPEN.into()),
        value: Set(open.to_string()),
    };
    site_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(site_setting::Column::Key)
                .update_column(site_setting::Column::Value)
                .to_owned(),
        )
        .exec(&services.db)
        .await?;
    Ok(())
}
