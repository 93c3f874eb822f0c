// llmsvc's additions to node-llama-cpp 3.21.1's addon. The build script compiles this file with
// the stock addon sources, after declaring the AddonContext methods below in AddonContext.h and
// registering them in AddonContext::init (the anchors are in scripts/build-fast-addon.ts).
#include <algorithm>
#include <cmath>
#include <string>

#include "llama.h"
#include "AddonContext.h"
#include "AddonModel.h"
#include "AddonSampler.h"
#include "llmsvcFastAddon.h"

#ifndef LLMSVC_NODE_LLAMA_CPP_VERSION
#define LLMSVC_NODE_LLAMA_CPP_VERSION "unknown"
#endif
#ifndef LLMSVC_LLAMA_CPP_RELEASE
#define LLMSVC_LLAMA_CPP_RELEASE "unknown"
#endif

Napi::Value llmsvcFastAddonInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object result = Napi::Object::New(env);
    result.Set("nodeLlamaCpp", LLMSVC_NODE_LLAMA_CPP_VERSION);
    result.Set("llamaCppRelease", LLMSVC_LLAMA_CPP_RELEASE);
    Napi::Array additions = Napi::Array::New(env, 2);
    additions.Set(uint32_t(0), "getSequenceEmbedding");
    additions.Set(uint32_t(1), "sampleTokenSync");
    result.Set("additions", additions);
    return result;
}

// getSequenceEmbedding(sequenceId, batchIndexOfLastToken?, maxVectorSize?): the stock getEmbedding
// reads the pooled embedding of sequence 0 only, so a batch can hold one embedding input. This
// reads the pooled embedding of any sequence of the last decoded batch, or, when the context does
// not pool (LLAMA_POOLING_TYPE_NONE), the embedding of the token at batchIndexOfLastToken (which
// must have been added with an output).
Napi::Value AddonContext::GetSequenceEmbedding(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed) {
        Napi::Error::New(env, "Context is disposed").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    if (info.Length() < 1 || !info[0].IsNumber()) {
        Napi::TypeError::New(env, "getSequenceEmbedding(sequenceId, batchIndexOfLastToken?, maxVectorSize?): sequenceId must be a number").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    const int32_t sequenceId = info[0].As<Napi::Number>().Int32Value();
    const bool hasBatchIndex = info.Length() > 1 && info[1].IsNumber();
    const int32_t batchIndex = hasBatchIndex ? info[1].As<Napi::Number>().Int32Value() : -1;
    const double maxVectorSize = (info.Length() > 2 && info[2].IsNumber()) ? info[2].As<Napi::Number>().DoubleValue() : 0;

    if (sequenceId < 0) {
        Napi::Error::New(env, "Invalid sequence id").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    if (!std::isfinite(maxVectorSize) || maxVectorSize < 0 || std::floor(maxVectorSize) != maxVectorSize) {
        Napi::Error::New(env, "Invalid maximum embedding vector size").ThrowAsJavaScriptException();
        return env.Undefined();
    }

    const enum llama_pooling_type pooling_type = llama_pooling_type(ctx);
    const int64_t n_embd = pooling_type == LLAMA_POOLING_TYPE_RANK
        ? static_cast<int64_t>(llama_model_n_cls_out(model->model))
        : llama_model_n_embd_out(model->model);
    if (n_embd <= 0) {
        Napi::Error::New(env, "Invalid embedding vector size").ThrowAsJavaScriptException();
        return env.Undefined();
    }

    const float* embeddings = nullptr;
    if (pooling_type == LLAMA_POOLING_TYPE_NONE) {
        if (!hasBatchIndex) {
            Napi::Error::New(env, "This context does not pool embeddings: pass the batch index of the sequence's last token").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        embeddings = llama_get_embeddings_ith(ctx, batchIndex);
    } else {
        embeddings = llama_get_embeddings_seq(ctx, sequenceId);
    }

    if (embeddings == nullptr) {
        Napi::Error::New(env, std::string("Failed to get the embedding of sequence ") + std::to_string(sequenceId)).ThrowAsJavaScriptException();
        return env.Undefined();
    }

    const size_t resultSize = maxVectorSize == 0 ? n_embd : std::min<double>(n_embd, maxVectorSize);
    Napi::Float64Array result = Napi::Float64Array::New(env, resultSize);
    for (size_t i = 0; i < resultSize; i++) {
        result[i] = embeddings[i];
    }
    return result;
}

// sampleTokenSync(batchLogitIndex, sampler): the stock sampleToken without the AsyncWorker hop
// (a thread-pool round trip per token) and without probabilities or confidence: returns the
// sampled token, or -1 when the sampler left no candidate. Sampling one token over the logits of
// the last decode is cheap next to the hop when the JS thread has nothing else to do.
Napi::Value AddonContext::SampleTokenSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed) {
        Napi::Error::New(env, "Context is disposed").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    const int32_t batchLogitIndex = info[0].As<Napi::Number>().Int32Value();
    AddonSampler* sampler = Napi::ObjectWrap<AddonSampler>::Unwrap(info[1].As<Napi::Object>());

    if (llama_get_logits(ctx) == nullptr) {
        Napi::Error::New(env, "This model does not support token generation").ThrowAsJavaScriptException();
        return env.Undefined();
    }

    try {
        sampler->rebuildChainIfNeeded();
        llama_token_data_array cur_p;
        sampler->sample(ctx, batchLogitIndex, cur_p, false);
        if (cur_p.size == 0 || !(cur_p.selected >= 0 && cur_p.selected < (int32_t)cur_p.size)) {
            return Napi::Number::New(env, -1);
        }
        const llama_token token = cur_p.data[cur_p.selected].id;
        sampler->acceptToken(token);
        return Napi::Number::New(env, static_cast<uint32_t>(token));
    } catch (const std::exception& e) {
        Napi::Error::New(env, std::string("Failed to sample a token: ") + e.what()).ThrowAsJavaScriptException();
    } catch (...) {
        Napi::Error::New(env, "Unknown error when calling \"sampleTokenSync\"").ThrowAsJavaScriptException();
    }
    return env.Undefined();
}
