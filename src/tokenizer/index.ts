export { encode, decode, tokenBytes, EOS_TOKEN_ID } from './tokenizer';
export { StreamDecoder } from './streamDecoder';
