"""cirahub.store"""
