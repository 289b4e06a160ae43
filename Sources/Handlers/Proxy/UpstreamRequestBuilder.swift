import Foundation
import Generated
import HTTPTypes
import NIOCore

/// The upstream request stage: the provider's request, built from scratch. The URL is the base URL
/// plus the checked path; the headers are the provider's auth and fixed headers plus a short list
/// of the client's; the body goes through one edit, in one pass over its bytes.
enum UpstreamRequestBuilder {
    static func build(_ call: ProxyCall, path: String, key: Secret<String>?) -> UpstreamRequest {
        let definition = call.provider.definition
        let body: ByteBuffer?
        switch call.body {
        case .none: body = nil
        case .asSent(let bytes): body = JSONBodyEdit.edit(bytes, strip: [], askStreamUsage: definition.requestStreamUsage)
        case .oldForm(let bytes):
            body = JSONBodyEdit.edit(bytes, strip: JSONBodyEdit.strippedFields, askStreamUsage: definition.requestStreamUsage)
        case .prepared(let bytes): body = bytes
        }
        return UpstreamRequest(
            method: call.method,
            url: url(provider: call.provider, key: key, path: path, query: call.query),
            headers: headers(provider: call.provider, key: key, client: call.clientHeaders, hasBody: body != nil),
            body: body
        )
    }

    /// The base URL plus the checked path plus encoded query parameters; the key goes in the query
    /// only for providers that take it nowhere else.
    static func url(provider: Provider, key: Secret<String>?, path: String, query: [(name: String, value: String)]) -> String {
        var items = query
        if case .query(let name) = provider.definition.auth, let key { items.append((name, key.value)) }
        var url = provider.baseURL + (path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path)
        if !items.isEmpty {
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&=+?#")
            let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "" }
            url += "?" + items.map { encode($0.name) + "=" + encode($0.value) }.joined(separator: "&")
        }
        return url
    }

    /// The provider's auth, its fixed headers, the content type, and the few client headers the
    /// provider allows through. The client's Authorization, cookies and hop-by-hop headers never
    /// go upstream.
    static func headers(provider: Provider, key: Secret<String>?, client: HTTPFields, hasBody: Bool) -> HTTPFields {
        var headers = HTTPFields()
        switch provider.definition.auth {
        case .bearer:
            if let key { headers[.authorization] = "Bearer \(key.value)" }
        case .header(let name, let prefix):
            if let key, let field = HTTPField.Name(name) { headers[field] = prefix + key.value }
        case .query, .none:
            break
        }
        for (name, value) in provider.definition.headers.sorted(by: { $0.key < $1.key }) {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        if hasBody { headers[.contentType] = client[.contentType] ?? "application/json" }
        headers[.accept] = client[.accept] ?? "*/*"
        headers[.userAgent] = userAgent
        for name in provider.definition.passHeaders {
            if let field = HTTPField.Name(name), let value = client[field] { headers[field] = value }
        }
        return headers
    }

    static let userAgent = "safeapi-bridge/\(RouteTable.version)"
}
