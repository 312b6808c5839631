export { encode, decode, EOS_TOKEN_ID } from './tokenizer';
export { StreamDecoder, tokenBytes } from './streamDecoder';
