import Foundation
public import Generated

extension BridgeAPI {
    public func createSplitKey(_ input: Operations.CreateSplitKey.Input, context: Context) async throws -> Operations.CreateSplitKey.Output
    {
        .created(try await splitKeys.split(input.body, user: try context.requireUser()))
    }

    public func listSplitKeys(_ input: Operations.ListSplitKeys.Input, context: Context) async throws -> Operations.ListSplitKeys.Output {
        .ok(SplitKeyList(keys: try await splitKeys.list(user: try context.requireUser())))
    }

    public func getSplitKey(_ input: Operations.GetSplitKey.Input, context: Context) async throws -> Operations.GetSplitKey.Output {
        .ok(try await splitKeys.get(input.keyId, user: try context.requireUser()))
    }

    public func updateSplitKey(_ input: Operations.UpdateSplitKey.Input, context: Context) async throws -> Operations.UpdateSplitKey.Output
    {
        .ok(
            try await splitKeys.update(
                input.keyId, description: input.body.description, budgets: input.body.budgets, user: try context.requireUser()))
    }

    public func deleteSplitKey(_ input: Operations.DeleteSplitKey.Input, context: Context) async throws -> Operations.DeleteSplitKey.Output
    {
        try await splitKeys.delete(input.keyId, owner: try context.requireUser().userId)
        return .noContent
    }

    public func rotateSplitKey(_ input: Operations.RotateSplitKey.Input, context: Context) async throws -> Operations.RotateSplitKey.Output
    {
        .ok(try await splitKeys.rotate(input.keyId, currentPart: input.xPartialKey, user: try context.requireUser()))
    }

    public func validateSplitKey(_ input: Operations.ValidateSplitKey.Input, context: Context) async throws
        -> Operations.ValidateSplitKey.Output
    {
        .ok(try await splitKeys.validate(keyId: input.xPartialKeyId, part: input.xPartialKey, user: try context.requireUser()))
    }

    public func adminListSplitKeys(_ input: Operations.AdminListSplitKeys.Input, context: Context) async throws
        -> Operations.AdminListSplitKeys.Output
    {
        return .ok(SplitKeyList(keys: try await splitKeys.adminList(userId: input.userId, provider: input.provider?.lowercased())))
    }

    public func adminDeleteSplitKey(_ input: Operations.AdminDeleteSplitKey.Input, context: Context) async throws
        -> Operations.AdminDeleteSplitKey.Output
    {
        do {
            try await splitKeys.delete(input.keyId, owner: input.userId)
        } catch AppError.splitKeyNotFound {
            throw AppError.notFound(what: "split key")
        }
        return .noContent
    }
}
