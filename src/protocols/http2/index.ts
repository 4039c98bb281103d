// HTTP/2 and gRPC parsing: the parser API (the protocol interface is protocol.ts).
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
