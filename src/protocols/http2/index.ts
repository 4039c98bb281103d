// HTTP/2 and gRPC parsing: public API used by the connection tracker.
export { FrameReader, frameChainAt, saneFrameHeader, newFrameStats, PREFACE, type FrameStats } from './frames';
export { GrpcMessageCounter, grpcPathParts, isGrpcContentType, parseGrpcStatus } from './grpc';
export { HpackDecoder, HpackError, type HeaderField } from './hpack';
export {
  Http2Session,
  newHttp2Stats,
  MAX_OPEN_STREAMS,
  type GrpcCall,
  type Http2RequestHead,
  type Http2Stats,
  type Http2Transaction,
  type Side,
} from './session';
