// Wire types and gRPC service definitions generated from proto/muster/v1 (never edited by hand).
export * from './gen/muster/v1/types';
export * from './gen/muster/v1/jobs';
export * from './gen/muster/v1/inventory';
export * from './gen/muster/v1/agent';
export { Timestamp } from './gen/google/protobuf/timestamp';
export * from './client';
