export { errorCodes, type ErrorCode } from './codes.js';
export { ApiError, isApiError, openaiErrorBody, anthropicErrorBody } from './ApiError.js';
