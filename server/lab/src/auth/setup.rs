//! First run: no default account and no default password anywhere. While no admin exists, each
//! start of the server issues a fresh one-time setup token (printed as a link); whoever opens it
//! creates the first admin, which consumes every token. The database keeps only the token's
//! hash, so the link is valid until it is used or the server prints a new one.

use super::now;
use super::users::{NewUser, insert, prepare};
use crate::db::entity::{setup_token, user};
use crate::model::{Role, UserView};
use crate::token::{hash_token, random_token};
use crate::{Error, Result, Services};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};

pub async fn admin_exists(services: &Services) -> Result<bool> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .count(&services.db)
        .await?
        > 0)
}

/// Issues a new setup token when no admin exists (replacing older ones), else clears them.
pub async fn issue_setup_token(services: &Services) -> Result<Option<String>> {
    setup_token::Entity::delete_many()
        .exec(&services.db)
        .await?;
    if admin_exists(services).await? {
        return Ok(None);
    }
    let token = random_token();
    setup_token::ActiveModel {
        token_hash: Set(hash_token(&token)),
        created_at: Set(now()),
    }
    .insert(&services.db)
    .await?;
    Ok(Some(token))
}

pub async fn setup_token_is_valid(services: &Services, token: &str) -> Result<bool> {
    Ok(!token.is_empty()
        && setup_token::Entity::find_by_id(hash_token(token))
            .one(&services.db)
            .await?
            .is_some())
}

/// Creates the first admin with a valid setup token, and consumes all tokens. The check and
/// the insert share one transaction, so two people opening the link at once get one admin.
pub async fn complete_setup(services: &Services, token: &str, new: NewUser) -> Result<UserView> {
    let used = || {
        Error::Invalid("This setup link has been used or replaced. Sign in instead, or get a new link with: proxlab setup-link.".into())
    };
    if !setup_token_is_valid(services, token).await? {
        return Err(used());
    }
    // Hash before the transaction: never hold the database while burning CPU.
    let (row, _) = prepare(NewUser {
        role: Role::Admin,
        ..new
    })
    .await?;
    let txn = services.db.begin().await?;
    let deleted = setup_token::Entity::delete_by_id(hash_token(token))
        .exec(&txn)
        .await?;
    let admins = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .count(&txn)
        .await?;
    if deleted.rows_affected == 0 || admins > 0 {
        return Err(used());
    }
    let admin = insert(&txn, row).await?;
    setup_token::Entity::delete_many().exec(&txn).await?;
    txn.commit().await?;
    Ok(admin)
}
