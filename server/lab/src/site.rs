//! Site settings an admin changes from the UI, stored in `site_settings`.

use crate::{Result, Services, db::entity::site_setting};
use sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};

const REGISTRATION_OPEN: &str = "registration_open";

/// Whether people may create their own (student) accounts. Open unless an admin closed it.
pub async fn registration_open(services: &Services) -> Result<bool> {
    Ok(get(services, REGISTRATION_OPEN)
        .await?
        .is_none_or(|v| v != "false"))
}

pub async fn set_registration_open(services: &Services, open: bool) -> Result<()> {
    set(services, REGISTRATION_OPEN, &open.to_string()).await
}

/// A setting's stored text, if an admin set it.
pub async fn get(services: &Services, key: &str) -> Result<Option<String>> {
    Ok(site_setting::Entity::find_by_id(key)
        .one(&services.db)
        .await?
        .map(|r| r.value))
}

pub async fn set(services: &Services, key: &str, value: &str) -> Result<()> {
    let row = site_setting::ActiveModel {
        key: Set(key.into()),
        value: Set(value.into()),
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
