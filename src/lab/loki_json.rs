//! Loki's JSON answers: `streams` (structured metadata merged into `stream`, or categorised
//! with `X-Loki-Response-Encoding-Flags: categorize-labels`), instant `vector`s and the large
//! `stats` object, written in Loki's key order with a trailing newline as Loki sends them.

use super::loki_mapping::LokiEntry;
use super::params::{format_go_json_float, format_prom_ts};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What a query scanned and returned, for the `stats` object.
#[derive(Clone, Debug, Default)]
pub struct QueryStats {
    pub lines_scanned: usize,
    pub bytes_scanned: usize,
    pub metadata_bytes_scanned: usize,
    pub lines_matched: usize,
    pub entries_returned: usize,
    pub streams_matched: usize,
    pub referenced_metadata: bool,
    pub exec_secs: f64,
}

/// The querier part of Loki's stats: all zero, the lab answers from "ingesters".
const QUERIER: &str = r#","querier":{"store":{"totalChunksRef":0,"totalChunksDownloaded":0,"chunksDownloadTime":0,"queryReferencedStructuredMetadata":false,"queryUsedV2Engine":false,"chunk":{"headChunkBytes":0,"headChunkLines":0,"decompressedBytes":0,"decompressedLines":0,"compressedBytes":0,"totalDuplicates":0,"postFilterLines":0,"headChunkStructuredMetadataBytes":0,"decompressedStructuredMetadataBytes":0},"chunkRefsFetchTime":0,"congestionControlLatency":0,"pipelineWrapperFilteredLines":0,"dataobj":{"prePredicateDecompressedRows":0,"prePredicateDecompressedBytes":0,"prePredicateDecompressedStructuredMetadataBytes":0,"postPredicateRows":0,"postPredicateDecompressedBytes":0,"postPredicateStructuredMetadataBytes":0,"postFilterRows":0,"pagesScanned":0,"pagesDownloaded":0,"pagesDownloadedBytes":0,"pageBatches":0,"totalRowsAvailable":0,"totalPageDownloadTime":0}}}"#;

/// The cache and index parts of Loki's stats (all zero).
const CACHE_AND_INDEX: &str = r#","cache":{"chunk":{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0},"index":{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0},"result":{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0},"statsResult":{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0},"volumeResult":{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0},"seriesResult":{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0},"labelResult":{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0},"instantMetricResult":{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0}},"index":{"totalChunks":0,"postFilterChunks":0,"shardsDuration":0,"usedBloomFilters":false}}"#;

/// The dataobj part of the ingester stats (all zero).
const DATAOBJ: &str = r#","dataobj":{"prePredicateDecompressedRows":0,"prePredicateDecompressedBytes":0,"prePredicateDecompressedStructuredMetadataBytes":0,"postPredicateRows":0,"postPredicateDecompressedBytes":0,"postPredicateStructuredMetadataBytes":0,"postFilterRows":0,"pagesScanned":0,"pagesDownloaded":0,"pagesDownloadedBytes":0,"pageBatches":0,"totalRowsAvailable":0,"totalPageDownloadTime":0}}}"#;

/// The `stats` object, shaped exactly as Loki 3.6's, with this query's counts.
pub fn stats_json(s: &QueryStats) -> String {
    let exec = s.exec_secs.max(0.000_1);
    let queue = 0.000_3;
    let per_sec = |n: usize| (n as f64 / exec) as u64;
    let summary = format!(
        "{{\"summary\":{{\"bytesProcessedPerSecond\":{},\"linesProcessedPerSecond\":{},\"totalBytesProcessed\":{},\"totalLinesProcessed\":{},\"execTime\":{},\"queueTime\":{},\"subqueries\":0,\"totalEntriesReturned\":{},\"splits\":0,\"shards\":1,\"totalPostFilterLines\":{},\"totalStructuredMetadataBytesProcessed\":{}}}",
        per_sec(s.bytes_scanned + s.metadata_bytes_scanned),
        per_sec(s.lines_scanned),
        s.bytes_scanned + s.metadata_bytes_scanned,
        s.lines_scanned,
        format_go_json_float(exec),
        format_go_json_float(queue),
        s.entries_returned,
        s.lines_matched,
        s.metadata_bytes_scanned,
    );
    let ingester = format!(
        ",\"ingester\":{{\"totalReached\":1,\"totalChunksMatched\":{},\"totalBatches\":{},\"totalLinesSent\":{},\"store\":{{\"totalChunksRef\":0,\"totalChunksDownloaded\":0,\"chunksDownloadTime\":0,\"queryReferencedStructuredMetadata\":{},\"queryUsedV2Engine\":false,\"chunk\":{{\"headChunkBytes\":{},\"headChunkLines\":{},\"decompressedBytes\":0,\"decompressedLines\":0,\"compressedBytes\":0,\"totalDuplicates\":0,\"postFilterLines\":{},\"headChunkStructuredMetadataBytes\":{},\"decompressedStructuredMetadataBytes\":0}},\"chunkRefsFetchTime\":{},\"congestionControlLatency\":0,\"pipelineWrapperFilteredLines\":0",
        s.streams_matched,
        1 + usize::from(s.entries_returned > 0),
        s.entries_returned,
        s.referenced_metadata,
        s.bytes_scanned + s.metadata_bytes_scanned,
        s.lines_scanned,
        s.lines_matched,
        s.metadata_bytes_scanned,
        100_000,
    );
    format!("{summary}{QUERIER}{ingester}{DATAOBJ}{CACHE_AND_INDEX}")
}

/// How entries are grouped and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Structured metadata merged into `stream`; values `[ts, line]`.
    Merged,
    /// `stream` = index labels; values `[ts, line, {"structuredMetadata":{…}}]`.
    Categorized,
}

#[derive(Serialize)]
struct Stream {
    stream: BTreeMap<String, String>,
    values: Vec<Value>,
}

/// The `streams` answer for entries already filtered, limited and ordered.
pub fn streams_json(entries: &[&LokiEntry], encoding: Encoding, stats: &QueryStats) -> String {
    let mut streams: Vec<Stream> = Vec::new();
    let mut index: BTreeMap<BTreeMap<String, String>, usize> = BTreeMap::new();
    for e in entries {
        let key = match encoding {
            Encoding::Merged => e.merged(),
            Encoding::Categorized => e.labels.clone(),
        };
        let value = match encoding {
            Encoding::Merged => json!([e.ts_ns.to_string(), e.line]),
            Encoding::Categorized if e.metadata.is_empty() => {
                json!([e.ts_ns.to_string(), e.line, {}])
            }
            Encoding::Categorized => json!([
                e.ts_ns.to_string(),
                e.line,
                { "structuredMetadata": e.metadata }
            ]),
        };
        let i = *index.entry(key.clone()).or_insert_with(|| {
            streams.push(Stream {
                stream: key,
                values: Vec::new(),
            });
            streams.len() - 1
        });
        streams[i].values.push(value);
    }
    let flags = match encoding {
        Encoding::Merged => "",
        Encoding::Categorized => ",\"encodingFlags\":[\"categorize-labels\"]",
    };
    format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"streams\"{flags},\"result\":{},\"stats\":{}}}}}\n",
        serde_json::to_string(&streams).expect("streams JSON"),
        stats_json(stats)
    )
}

/// An instant `vector` answer (metric queries); no trailing newline, as Loki sends it.
pub fn vector_json(
    series: &[(BTreeMap<String, String>, f64)],
    ts_ms: i64,
    stats: &QueryStats,
) -> String {
    let result: Vec<String> = series
        .iter()
        .map(|(labels, v)| {
            format!(
                "{{\"metric\":{},\"value\":[{},\"{}\"]}}",
                serde_json::to_string(labels).expect("labels JSON"),
                format_prom_ts(ts_ms),
                super::params::format_prom_value(*v)
            )
        })
        .collect();
    format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"vector\",\"result\":[{}],\"stats\":{}}}}}",
        result.join(","),
        stats_json(stats)
    )
}

/// `{"status":"success","data":…}` plus newline (labels, label values, series).
pub fn data_json<T: Serialize>(data: &T) -> String {
    format!(
        "{{\"status\":\"success\",\"data\":{}}}\n",
        serde_json::to_string(data).expect("data JSON")
    )
}
