//! Turns SDK errors into the ports' error types, telling what may succeed on retry from what cannot.
//! Each error is a short label of the operation, with the SDK error kept whole as its source, so a
//! logged chain names each cause once. SDK error types never leave this crate.

use audit_domain::ports::StoreError;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

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

/// Whether an SDK error may succeed on retry.
pub(crate) fn is_transient<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or_default();
            RETRYABLE_CODES.contains(&code) || code.is_empty()
        }
        // Timeouts, connection failures and unreadable answers are all transient from here.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    }
}

/// Classifies any DynamoDB SDK error from `operation` (such as `DynamoDB Query`) as a
/// [`StoreError`], keeping it as the source.
pub(crate) fn store_error<E, R>(
    operation: &'static str,
) -> impl FnOnce(SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    move |error| {
        if is_transient(&error) {
            StoreError::unavailable(operation, error)
        } else {
            StoreError::rejected(operation, error)
        }
    }
}

/// A record or request the SDK refused to build, or an item that does not map back: never retried.
pub(crate) fn rejected<E>(operation: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| StoreError::rejected(operation, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::query::QueryError;
    use aws_sdk_dynamodb::types::error::ResourceNotFoundException;

    fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
        let mut out = vec![error.to_string()];
        let mut source = error.source();
        while let Some(cause) = source {
            out.push(cause.to_string());
            source = cause.source();
        }
        out
    }

    #[test]
    fn the_label_names_the_operation_and_the_cause_is_said_once() {
        let service = QueryError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("Requested resource not found: secret-table")
                .meta(
                    aws_sdk_dynamodb::error::ErrorMetadata::builder()
                        .code("ResourceNotFoundException")
                        .message("Requested resource not found: secret-table")
                        .build(),
                )
                .build(),
        );
        let sdk: SdkError<QueryError, ()> = SdkError::service_error(service, ());
        let sdk_chain = chain(&sdk);
        let error = store_error("DynamoDB Query")(sdk);
        assert!(!error.is_retryable());
        // The label, then the SDK's own chain as it is: nothing of it is repeated in the message.
        let mut expected = vec!["DynamoDB Query was refused".to_owned()];
        expected.extend(sdk_chain);
        assert_eq!(chain(&error), expected);
    }

    #[test]
    fn timeouts_may_succeed_on_retry() {
        let sdk: SdkError<QueryError, ()> = SdkError::timeout_error("no answer in 20 s");
        assert!(store_error("DynamoDB Query")(sdk).is_retryable());
    }
}
