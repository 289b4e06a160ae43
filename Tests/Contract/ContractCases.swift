import Foundation
import Generated
import Handlers
import HTTPTypes

/// One request against one operation, and the status the spec says it gets.
struct ContractCase: Sendable, CustomTestStringConvertible {
    enum Setup: Sendable {
        /// The application as `buildApplication` makes it, on a fresh database.
        case standard
        /// The application's router over a database that cannot be reached.
        case unreachableDatabase
    }

    let operationId: String
    let name: String
    var setup: Setup = .standard
    let method: HTTPRequest.Method
    let path: String
    var headers: HTTPFields = [:]
    var body: String?
    let expectedStatus: Int

    var testDescription: String { "\(operationId) → \(expectedStatus): \(name)" }
}

import Testing

/// Every operation's success and error statuses. `ContractTests.everyOperationAndStatusHasACase`
/// fails when the spec gains an operation or a status that has no case here.
enum ContractCases {
    static let all: [ContractCase] = [
        ContractCase(operationId: "getServiceInfo", name: "service info", method: .get, path: "/", expectedStatus: 200),
        ContractCase(operationId: "getHealth", name: "liveness", method: .get, path: "/health", expectedStatus: 200),
        ContractCase(
            operationId: "getHealth", name: "unknown query parameters are ignored", method: .get, path: "/health?verbose=1",
            expectedStatus: 200
        ),
        ContractCase(operationId: "getReadiness", name: "database reachable", method: .get, path: "/ready", expectedStatus: 200),
        ContractCase(
            operationId: "getReadiness", name: "database unreachable", setup: .unreachableDatabase, method: .get, path: "/ready",
            expectedStatus: 503
        ),
    ]
}
