import Foundation
import NIOCore

/// OpenAI's embeddings as Gemini's `batchEmbedContents`: each input text one request, each
/// embedding one item of OpenAI's list, as floats or (`encoding_format: base64`, what the OpenAI
/// SDKs ask for by default) as the base64 of their little-endian float32 bytes. Gemini reports no
/// tokens for embeddings, so the usage is 0.
enum GeminiEmbeddings: GatewayTranslation {
    struct Request: Decodable, OpenAIRequest {
        var input: [String]
        var dimensions: Int?
        var encodingFormat: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case model, input, dimensions, user
            case encodingFormat = "encoding_format"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let one = try? container.decode(String.self, forKey: .input) {
                input = [one]
            } else if let many = try? container.decode([String].self, forKey: .input) {
                input = many
            } else {
                throw OpenAIChat.Refusal(parameter: "input", reason: "Gemini embeds texts: a string or a list of strings, not tokens")
            }
            dimensions = try container.decodeIfPresent(Int.self, forKey: .dimensions)
            encodingFormat = try container.decodeIfPresent(String.self, forKey: .encodingFormat)
            if let format = encodingFormat, !["float", "base64"].contains(format) {
                throw OpenAIChat.Refusal(parameter: "encoding_format", reason: "must be float or base64")
            }
        }
    }

    struct BatchRequest: Encodable {
        var requests: [Item]

        struct Item: Encodable {
            var model: String
            var content: GeminiContent.Content
            var outputDimensionality: Int?
        }
    }

    static func call(_ body: ByteBuffer, fields: [String], model: String) throws -> TranslatedCall {
        let request = try OpenAIChat.read(Request.self, from: body, fields: fields)
        let batch = BatchRequest(
            requests: request.input.map {
                .init(model: "models/\(model)", content: .init(parts: [.init(text: $0)]), outputDimensionality: request.dimensions)
            })
        return TranslatedCall(
            endpoint: "/models/\(model):batchEmbedContents", body: ByteBuffer(string: OpenAIChat.json(batch)),
            translation: GeminiEmbeddingsTranslation(model: model, base64: request.encodingFormat == "base64"))
    }

    struct Answer: Decodable {
        var embeddings: [Embedding]

        struct Embedding: Decodable {
            var values: [Float]
        }
    }

    /// OpenAI's list of embeddings.
    struct List: Encodable {
        var object = "list"
        var data: [Item]
        var model: String
        var usage = ["prompt_tokens": 0, "total_tokens": 0]

        struct Item: Encodable {
            var object = "embedding"
            var index: Int
            var embedding: Vector
        }

        enum Vector: Encodable {
            case floats([Float])
            case base64(String)

            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                switch self {
                case .floats(let values): try container.encode(values)
                case .base64(let text): try container.encode(text)
                }
            }
        }
    }

    /// The base64 of `values` as little-endian float32 bytes, as OpenAI sends `base64` embeddings.
    static func base64(_ values: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return Data(bytes).base64EncodedString()
    }
}

struct GeminiEmbeddingsTranslation: AnswerTranslation {
    var model: String
    var base64: Bool

    func answer(_ body: ByteBuffer) throws -> ByteBuffer {
        let answer = try JSONDecoder().decode(GeminiEmbeddings.Answer.self, from: Data(body.readableBytesView))
        let items = answer.embeddings.enumerated().map { index, embedding in
            GeminiEmbeddings.List.Item(
                index: index, embedding: base64 ? .base64(GeminiEmbeddings.base64(embedding.values)) : .floats(embedding.values))
        }
        return ByteBuffer(string: OpenAIChat.json(GeminiEmbeddings.List(data: items, model: model)))
    }

    func error(_ body: ByteBuffer, status: Int) -> ByteBuffer {
        GeminiTranslation(model: model, includeUsage: false).error(body, status: status)
    }

    /// Embeddings are never streamed; a provider that streamed anyway is passed through.
    func stream() -> (any StreamTranslator)? { nil }
}
