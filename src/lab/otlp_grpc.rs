//! The lab's OTLP/gRPC receiver: the three collector services via tonic, answering OK with an
//! empty partial success (`0a 00`, as the collector does) unless a fault says otherwise.

use super::LabState;
use super::faults::grpc_code_for_http;
use super::store::ReceivedVia;
use crate::emit::encoding::Payload;
use crate::signal::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::sync::Arc;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// Implements the three OTLP collector services over the shared lab state.
#[derive(Clone)]
pub struct LabGrpc {
    state: Arc<LabState>,
}

impl LabGrpc {
    pub fn new(state: Arc<LabState>) -> Self {
        LabGrpc { state }
    }

    /// Applies faults, stores the request, and returns the partial success to answer with.
    async fn accept(
        &self,
        signal: Signal,
        metadata: &tonic::metadata::MetadataMap,
        payload: Payload,
    ) -> Result<(i64, String), Status> {
        let fault = self.state.faults.get(signal);
        if !fault.delay.is_zero() {
            tokio::time::sleep(fault.delay).await;
        }
        if let Some(status) = fault.status {
            self.state
                .answered_error(ReceivedVia::Grpc, &payload, status);
            return Err(Status::new(
                grpc_code_for_http(status),
                format!("lab fault: answering {status}"),
            ));
        }
        let headers = metadata
            .iter()
            .filter_map(|kv| match kv {
                tonic::metadata::KeyAndValueRef::Ascii(k, v) => Some((
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )),
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            })
            .collect();
        self.state.accept(ReceivedVia::Grpc, headers, payload);
        Ok(fault.partial.unwrap_or((0, String::new())))
    }

    pub fn trace_server(&self) -> TraceServiceServer<LabGrpc> {
        TraceServiceServer::new(self.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
    }

    pub fn logs_server(&self) -> LogsServiceServer<LabGrpc> {
        LogsServiceServer::new(self.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
    }

    pub fn metrics_server(&self) -> MetricsServiceServer<LabGrpc> {
        MetricsServiceServer::new(self.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
    }
}

#[tonic::async_trait]
impl TraceService for LabGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let (metadata, _, msg) = request.into_parts();
        let (rejected_spans, error_message) = self
            .accept(Signal::Trace, &metadata, Payload::Trace(msg))
            .await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans,
                error_message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for LabGrpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let (metadata, _, msg) = request.into_parts();
        let (rejected_log_records, error_message) = self
            .accept(Signal::Log, &metadata, Payload::Log(msg))
            .await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records,
                error_message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for LabGrpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let (metadata, _, msg) = request.into_parts();
        let (rejected_data_points, error_message) = self
            .accept(Signal::Metric, &metadata, Payload::Metric(msg))
            .await?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess {
                rejected_data_points,
                error_message,
            }),
        }))
    }
}
