//! Turns SDK errors into the ports' error types, telling what may succeed on retry from what cannot.
//! SDK error types never leave this crate.

use audit_domain::ports::StoreError;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes that mean "not now" rather than "never".
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Classifies any DynamoDB SDK error as a [`StoreError`], keeping it as the source.
pub(crate) fn store_error<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let message = DisplayErrorContext(&error).to_string();
    let retryable = match &error {
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or_default();
            RETRYABLE_CODES.contains(&code) || code.is_empty()
        }
        // Timeouts, connection failures and unreadable answers are all transient from here.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    };
    let source = Some(Box::new(error) as Box<dyn std::error::Error + Send + Sync>);
    if retryable {
        StoreError::Unavailable { message, source }
    } else {
        StoreError::Rejected { message, source }
    }
}

/// A record or request the SDK refused to build, or an item that does not map back: never retried.
pub(crate) fn rejected(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Rejected {
        message: error.to_string(),
        source: Some(Box::new(error)),
    }
}
